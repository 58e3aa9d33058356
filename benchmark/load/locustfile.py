"""The Locust user of the latency benchmark: POST test images to one model's prediction endpoint, in
the protocol the bodies file was written for (/predictions, or v2 batches).

Run by benchmark/load/load_test.py as `python -m locust -f benchmark/load/locustfile.py --headless ...`
with two options of ours: --robustcifar-model (which endpoint) and --robustcifar-bodies (an .npz
of PNG request bodies written by load_test.py). Users wait for each answer and send the next
request at once (closed workload, no think time), so the number of users is the concurrency.

For more load than one machine makes, the same file runs in Locust's distributed mode: start
`--master` with these options and `--worker --master-host=...` processes on other machines
(each needs this file and the bodies file). A server with token authorization gets the key
from the environment variable ROBUSTCIFAR_INFERENCE_KEY.
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, events, task

from benchmark.load.request_bodies import read_bodies, read_meta
from robustcifar.serving.auth import KEY_ENV, auth_headers
from robustcifar.serving.protocols import from_description

_bodies: list[bytes] = []
_meta: dict = {}


@events.init_command_line_parser.add_listener
def add_options(parser) -> None:
    parser.add_argument("--robustcifar-model", type=str, default="", include_in_web_ui=False,
                        help="model name: requests go to its endpoint in the bodies' protocol")
    parser.add_argument("--robustcifar-bodies", type=str, default="", include_in_web_ui=False,
                        help=".npz of request bodies, their headers and protocol (benchmark/load/request_bodies.py)")


@events.init.add_listener
def load_bodies(environment, **_kwargs) -> None:
    options = environment.parsed_options
    if options is not None and options.robustcifar_bodies and not _bodies:
        _bodies.extend(read_bodies(options.robustcifar_bodies))
        _meta.update(read_meta(options.robustcifar_bodies))


class PredictionUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.protocol = from_description(_meta["protocol"])
        self.path = self.protocol.path(options.robustcifar_model)
        self.headers = {**_meta["headers"], **auth_headers(os.environ.get(KEY_ENV))}
        self.next_body = self.environment.runner.user_count if self.environment.runner else 0

    @task
    def predict(self) -> None:
        body = _bodies[self.next_body % len(_bodies)]
        self.next_body += 1
        with self.client.post(self.path, data=body, headers=self.headers, name=self.path,
                              catch_response=True) as response:
            # FastHttpUser already marks non-2xx answers as failures; a 200 must also be a prediction.
            if response.status_code == 200 and not self.protocol.is_valid(200, response.content or b"",
                                                                           response.headers):
                response.failure("answer that is not a prediction")
