from asyncbench.cli.app import main

main()
