"""Install the paddlevideo YouTube-8M package: ``pip install -e .``.

PaddlePaddle itself is not pinned here: install the CPU build (``pip install paddlepaddle==3.3.1``)
or the GPU build that matches your CUDA from PaddlePaddle's own index.
"""
from setuptools import find_packages, setup

setup(
    name="paddlevideo-yt8m",
    version="0.1.0",
    description="YouTube-8M video classification (AttentionLSTM, AttentionCluster) on PaddlePaddle",
    packages=find_packages(include=["paddlevideo", "paddlevideo.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.23",
        "pyyaml>=5.4",
        "tqdm>=4.60",
        "protobuf>=4.21",
        "crc32c>=2.3",
        "matplotlib>=3.5",
        "pydantic>=2.5",
    ],
    extras_require={
        # the test extra also installs the optional back-ends so that their tests run instead of skipping, and the
        # linter at the version ruff.toml was written for (a newer ruff may add rules to the selected groups)
        "test": ["pytest>=7", "ruff==0.17.6", "paddle2onnx>=2.0", "onnx", "onnxruntime", "visualdl"],
        "onnx": ["paddle2onnx>=2.0", "onnx", "onnxruntime"],
    },
)
