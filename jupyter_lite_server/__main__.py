from jupyter_lite_server.cli import main

main()
