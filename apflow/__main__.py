from apflow.cli import main

main()
