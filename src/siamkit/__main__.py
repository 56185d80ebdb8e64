from siamkit.cli.main import main

main(ends_process=True)  # ``python -m siamkit``: the process ends with the command
