from journeyctl.cli import app

app(prog_name="journeyctl")
