from asyncbench.cli import main

main()
