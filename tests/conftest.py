"""Set-up for the whole test session.

Without a GPU, the triton backend's tests run its kernels through Triton's interpreter. The
interpreter must be chosen before anything imports triton, because triton builds its own library
functions (tl.zeros, ...) as compiled or interpreted ones when it is imported, and torch.compile's
inductor imports it in tests that run earlier in the same worker.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
