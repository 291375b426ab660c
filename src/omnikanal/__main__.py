from omnikanal.cli import main

main()
