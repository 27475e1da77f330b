from abaco_cli.main import main

main()
