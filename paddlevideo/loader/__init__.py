"""Data: readers of YouTube-8M files, pipeline steps, datasets and loaders.

``paddlevideo.loader.yt8m`` (the file readers) does not import paddle; the datasets and builders do.
"""
