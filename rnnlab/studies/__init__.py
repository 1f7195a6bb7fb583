"""Studies that train several runs and compare them, apart from the tasks they train.

    compare    RNN vs LSTM vs GRU on one task: `rnnlab compare TASK`
    diagnose   the gates and gradient flow through time of a trained run: `rnnlab diagnose DIR`
    claims     the course's claims about the three cells, judged on measured numbers
    memory     how far back each cell remembers: the adding problem at increasing lengths
    demo       the study `rnnlab demo` runs: all of the above on bundled data
"""
