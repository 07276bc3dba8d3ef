from softbrik.cli import main

main()
