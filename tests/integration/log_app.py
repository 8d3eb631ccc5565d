#!/usr/bin/python3
"""A Flask service that logs as services do and knows nothing of tracing:
inside each request GET /work/ID it logs a plain line through the logging
module ("2026-... INFO handling ID"), a JSON object line to stdout
({"event": "handled", "id": ID, "level": "warn"}), and an ERROR line to
stderr; a background thread logs "tick N" outside any request every 20 ms.

  log_app.py PORT
"""
import json
import logging
import sys
import threading
import time

from flask import Flask

logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("shop")
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = Flask(__name__)


@app.route("/work/<ident>")
def work(ident):
    log.info("handling %s", ident)
    sys.stdout.write(json.dumps({"event": "handled", "id": ident, "level": "warn"}) + "\n")
    sys.stdout.flush()
    sys.stderr.write("ERROR problem while handling %s\n" % ident)
    sys.stderr.flush()
    time.sleep(0.002)
    return "ok\n"


def ticker():
    n = 0
    while True:
        n += 1
        log.info("tick %d", n)
        time.sleep(0.02)


threading.Thread(target=ticker, daemon=True).start()
print("ready", flush=True)
app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
