from extremo.cli import main

main()
