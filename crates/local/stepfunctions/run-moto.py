#!/usr/bin/env python3
"""Runs a state machine on moto's Step Functions interpreter, for the local pipeline.

moto runs in this process (a ThreadedMotoServer on its own port, for the interpreter alone);
its Lambda tasks are sent to the Lambda Invoke API the local pipeline serves, because moto's
own Lambda needs Docker. stdout: one JSON line per history event, then {"kind": "result", ...},
the same lines as run-local.mjs. Exit code: 0 succeeded, 2 failed."""
import argparse, copy, json, logging, os, sys, time
import boto3
from botocore.config import Config

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=5000)
ap.add_argument("--lambda-url", required=True)            # e.g. http://127.0.0.1:9001
ap.add_argument("--definition", required=True)            # path to ASL JSON
ap.add_argument("--role-arn", default="arn:aws:iam::123456789012:role/StepFunctionsRole")
ap.add_argument("--input", default="{}")                  # execution input JSON
ap.add_argument("--name", default="sm")
ap.add_argument("--region", default="us-east-1")
ap.add_argument("--max-wait", type=float, default=None)   # cap Wait states / Retry intervals (seconds)
a = ap.parse_args()

os.environ["MOTO_PORT"] = str(a.port)  # moto's own SDK integrations (aws-sdk:s3 ...) call localhost:MOTO_PORT
for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(k, "testing")

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

# 1) enable the real ASL interpreter (same effect as POST /moto-api/config)
default_user_config["stepfunctions"] = {"execute_state_machine": True}

# 2) Lambda tasks (arn:aws:states:::lambda:invoke and plain function ARNs) -> external endpoint
_orig_client_for = lambda_eval_utils.boto_client_for
def _client_for(region, service, state_credentials=None):
    if service != "lambda":
        return _orig_client_for(region=region, service=service, state_credentials=state_credentials)
    return boto3.client("lambda", endpoint_url=a.lambda_url, region_name=region,
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=3600))
lambda_eval_utils.boto_client_for = _client_for

# 3) moto#10077 workaround: deepcopy(state_machine) in StartExecution drags live executions (RLocks) along
def _sm_deepcopy(self, memo):
    new = self.__class__.__new__(self.__class__)
    memo[id(self)] = new
    for k, v in self.__dict__.items():
        setattr(new, k, v if k == "backend" else [] if k == "executions" else copy.deepcopy(v, memo))
    return new
StateMachineInstance.__deepcopy__ = _sm_deepcopy

# 4) optional: shorten Wait states and Retry back-off sleeps
if a.max_wait is not None:
    _orig_wait = WaitFunction._wait_interval
    WaitFunction._wait_interval = lambda self, env, wait_seconds: _orig_wait(self, env, int(min(wait_seconds, a.max_wait)))
    _sleep = time.sleep
    class _T: sleep = staticmethod(lambda s: _sleep(min(s, a.max_wait)))
    retrier_decl.time = _T

def emit(obj):
    print(json.dumps(obj, default=str), flush=True)


def normalized(event_type):
    """moto's history names events TaskStateEntered, ChoiceStateEntered, …: keep the kind."""
    for kind in ("StateEntered", "StateExited"):
        if event_type.endswith(kind):
            return kind
    return event_type

logging.getLogger("werkzeug").setLevel(logging.ERROR)          # per-request access log
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)  # interpreter error dumps
server = ThreadedMotoServer(ip_address="127.0.0.1", port=a.port, verbose=False)
server.start()
sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{a.port}", region_name=a.region)
with open(a.definition) as f:
    definition = f.read()
sm_arn = sfn.create_state_machine(name=a.name, definition=definition, roleArn=a.role_arn)["stateMachineArn"]
ex_arn = sfn.start_execution(stateMachineArn=sm_arn, input=a.input)["executionArn"]

seen = 0
while True:
    status = sfn.describe_execution(executionArn=ex_arn)["status"]   # read status BEFORE history
    events = sfn.get_execution_history(executionArn=ex_arn)["events"]  # moto returns all events, no paging
    for e in events[seen:]:
        det = e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}
        fail = next((v for k, v in e.items() if k.endswith("FailedEventDetails")), {})
        line = {"kind": "event", "type": normalized(e["type"]), "state": det.get("name")}
        if fail:
            line.update({"error": fail.get("error"), "cause": fail.get("cause")})
        if "output" in det:
            try:
                line["output"] = json.loads(det["output"])
            except (TypeError, ValueError):
                pass
        emit(line)
    seen = len(events)
    if status != "RUNNING":
        break
    time.sleep(0.2)

d = sfn.describe_execution(executionArn=ex_arn)
emit({"kind": "result", "status": d["status"], "output": json.loads(d["output"]) if d.get("output") else None,
      "error": d.get("error"), "cause": d.get("cause"), "executionArn": ex_arn, "stateMachineArn": sm_arn})
server.stop()
sys.exit(0 if d["status"] == "SUCCEEDED" else 2)
