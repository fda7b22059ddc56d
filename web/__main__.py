"""`python -m web`: the report on Flask's development server (debug off), for dev only."""

from __future__ import annotations

from web import create_app


def main() -> None:
    """Serve on 127.0.0.1:WEB_PORT; production runs `gunicorn 'web:create_app()'` instead."""
    app = create_app()
    app.run(host="127.0.0.1", port=app.config["SETTINGS"].web_port, debug=False)


if __name__ == "__main__":
    main()
