"""Export to Paddle Inference / ONNX and prediction with Paddle Inference."""
