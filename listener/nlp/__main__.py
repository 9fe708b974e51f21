"""Run the NLP command group on its own: `python -m listener.nlp tag ...`."""

from listener.nlp.cli import app

if __name__ == "__main__":
    app()
