"""The read model of the GPUs, read by the dashboard's pages, its ``/metrics`` and ``launcher
gpus`` alike: who holds which GPU, the queue, quota use, the sampled history.

* :mod:`.aggregate`: pure builders (GPU map, queue, quota table, history buckets, samples);
* :mod:`.live`: the GPUs' live readings (nvidia-smi, asked at most every few seconds);
* :mod:`.view`: :class:`~.view.Board`, what each of them shows, read from the store (the I/O).
"""
