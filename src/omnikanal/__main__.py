from omnikanal.entry import main

main()
