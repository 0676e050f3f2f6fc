from llmbox.cli import main

main()
