from siamkit.cli.main import main

main()
