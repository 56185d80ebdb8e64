# first, before siamkit's command line is imported: a process of a launch (torchrun starts each
# with python -m siamkit) holds a Ctrl-C that comes while it imports until its command starts,
# where it printed Python's traceback (siamkit.launch_env.take_ctrl_c)
from siamkit.launch_env import take_ctrl_c

take_ctrl_c()

from siamkit.cli.main import main  # noqa: E402

main()
