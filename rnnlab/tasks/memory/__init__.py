"""The long-memory tasks: the adding problem and the copy task, generated from a seed.

    problems.py   the sequences of both problems, their metrics and their memoryless baselines
    model.py      MemoryModel: a recurrent layer and a linear readout, at the last step or every step
    task.py       MemoryTask, the hooks both share (fresh sequences every epoch), and MemoryConfig
    adding.py     AddingTask and the AddingProblem estimator
    copy.py       CopyTask and the CopyProblem estimator
"""

from rnnlab.tasks.memory.adding import AddingConfig, AddingProblem, AddingTask
from rnnlab.tasks.memory.copy import CopyConfig, CopyProblem, CopyTask
from rnnlab.tasks.memory.model import MemoryModel

__all__ = ["AddingConfig", "AddingProblem", "AddingTask", "CopyConfig", "CopyProblem", "CopyTask", "MemoryModel"]
