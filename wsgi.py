from intact import create_app

app = create_app()
