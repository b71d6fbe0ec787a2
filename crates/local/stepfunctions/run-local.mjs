#!/usr/bin/env node
// Runs a state machine on the aws-local-stepfunctions interpreter, for the local pipeline.
// Usage: node run-local.mjs <definition.json> <input-json | @input.json> [lambda-endpoint-url] [mocks.json]
// Lambda tasks (lambda:invoke and plain function ARNs) are sent to the Lambda Invoke API at the
// endpoint, as AWS shapes them: the interpreter's own Lambda client does not emulate
// lambda:invoke. Every other task needs a mock: the interpreter's own task overrides.
// stdout: one JSON line per event, then {"kind":"result",...}. Exit code: 0 succeeded, 2 failed, 1 usage/setup error.
// mocks.json: {"tasks": {"StateName": {"result": {...}} | {"error": "X", "cause": "Y"}}, "waits": {"StateName": ms}}
if (typeof Promise.withResolvers !== 'function') { // aws-local-stepfunctions@3 uses it; Node 20 lacks it
  Promise.withResolvers = function () { let resolve, reject; const promise = new this((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };
}
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const die = (msg) => { out({ kind: 'result', status: 'SETUP_ERROR', error: 'Runner.SetupError', cause: msg }); process.exit(1); };
const [defPath, inputArg, endpoint, mocksPath] = process.argv.slice(2);
if (!defPath || inputArg === undefined) die('usage: sfn-runner.mjs <definition.json> <input-json|@file> [lambda-endpoint] [mocks.json]');
let definition, input, mocks;
try {
  definition = JSON.parse(readFileSync(defPath, 'utf8'));
  input = JSON.parse(inputArg.startsWith('@') ? readFileSync(inputArg.slice(1), 'utf8') : inputArg);
  mocks = mocksPath ? JSON.parse(readFileSync(mocksPath, 'utf8')) : {};
} catch (e) { die(`cannot read inputs: ${e.message}`); }

const LAMBDA_INVOKE = /^arn:aws:states:::lambda:invoke$/;
const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[^:]+(:[^:]+)?$/;
const MAX_TIMEOUT_S = 2147483; // setTimeout limit; library default Task timeout is only 60s (AWS: ~unlimited)

async function invokeLambda(functionName, payload, invocationType) {
  if (!endpoint) throw Object.assign(new Error('no lambda endpoint given'), { name: 'Runner.NoLambdaEndpoint' });
  const url = `${endpoint.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  let res, text;
  try {
    res = await fetch(url, { method: 'POST', body: JSON.stringify(payload ?? null),
      headers: { 'Content-Type': 'application/json', 'X-Amz-Invocation-Type': invocationType || 'RequestResponse' } });
    text = await res.text();
  } catch (e) { throw Object.assign(new Error(`${url}: ${e.cause?.message ?? e.message}`), { name: 'Lambda.SdkClientException' }); }
  if (!res.ok) {
    const t = (res.headers.get('x-amzn-errortype') || (res.status === 404 ? 'ResourceNotFoundException' : 'ServiceException')).split(':')[0];
    throw Object.assign(new Error(text || `HTTP ${res.status}`), { name: `Lambda.${t}` });
  }
  let body = text; try { body = text ? JSON.parse(text) : null; } catch { /* keep raw string */ }
  if (res.headers.get('x-amz-function-error')) { // like AWS: Error = errorType, Cause = JSON string of payload
    throw Object.assign(new Error(typeof body === 'string' ? body : JSON.stringify(body)), { name: body?.errorType || 'Lambda.Unknown' });
  }
  return { body, status: res.status, version: res.headers.get('x-amz-executed-version') || '$LATEST' };
}

const taskHandlers = {}; const problems = [];
(function walk(states) { // top level + Parallel branches + Map ItemProcessor/Iterator
  for (const [name, s] of Object.entries(states || {})) {
    if (s.Type === 'Parallel') s.Branches.forEach((b) => walk(b.States));
    if (s.Type === 'Map') walk((s.ItemProcessor || s.Iterator)?.States);
    if (s.Type !== 'Task') continue;
    if (s.TimeoutSeconds === undefined && s.TimeoutSecondsPath === undefined) s.TimeoutSeconds = MAX_TIMEOUT_S;
    const mock = mocks.tasks?.[name];
    if (mock) taskHandlers[name] = async () => {
      if (mock.error) throw Object.assign(new Error(mock.cause ?? ''), { name: mock.error });
      return mock.result ?? null;
    };
    else if (LAMBDA_INVOKE.test(s.Resource)) taskHandlers[name] = async (p) => {  // p = Parameters result
      const r = await invokeLambda(p.FunctionName, p.Payload, p.InvocationType);
      return { ExecutedVersion: r.version, Payload: r.body, StatusCode: r.status,
        SdkHttpMetadata: { HttpStatusCode: r.status }, SdkResponseMetadata: { RequestId: randomUUID() } };
    };
    else if (LAMBDA_ARN.test(s.Resource)) taskHandlers[name] = async (p) => (await invokeLambda(s.Resource, p)).body;
    // No mock: the task fails if the execution reaches it, as a service this machine lacks would.
    else taskHandlers[name] = async () => {
      throw Object.assign(new Error(`${s.Resource} is not available here and the local pipeline gave no mock for state '${name}'`), { name: 'States.TaskFailed' });
    };
  }
})(definition.States);
if (problems.length) die(problems.join('; '));

let sm;
try { sm = new StateMachine(definition); } catch (e) { die(e.message); }
// The context object ($$), as Step Functions fills it for an execution.
const executionName = `local-${randomUUID()}`;
const context = {
  Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:cfn-deployer:${executionName}`, Name: executionName, Input: input, StartTime: new Date().toISOString(), RoleArn: 'arn:aws:iam::123456789012:role/cfn-deployer-state-machine' },
  StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:cfn-deployer', Name: 'cfn-deployer' },
};
const ex = sm.run(input, { context, overrides: { taskResourceLocalHandlers: taskHandlers, waitTimeOverrides: mocks.waits || {} } });
const settled = ex.result.then((output) => ({ output }), (error) => ({ error })); // attach now: avoid unhandled rejection

for await (const ev of ex.eventLogs) {
  const line = { kind: 'event', type: ev.type, ts: ev.timestamp };
  if (ev.state) Object.assign(line, { state: ev.state.name, stateType: ev.state.type });
  if (ev.parentState) line.parentState = ev.parentState.name;
  if (ev.index !== undefined) line.index = ev.index;
  if (ev.Error !== undefined) Object.assign(line, { error: ev.Error, cause: ev.Cause });
  if (ev.retry) line.attempt = ev.retry.attempt;
  if (ev.state?.output !== undefined) line.output = ev.state.output;
  out(line);
}
const r = await settled;
const arns = { executionArn: context.Execution.Id, stateMachineArn: context.StateMachine.Id };
if (!r.error) { out({ kind: 'result', status: 'SUCCEEDED', output: r.output, ...arns }); process.exit(0); }
const inner = r.error.cause; // ExecutionError.cause = the RuntimeError (name = ASL error name)
const status = r.error.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : r.error.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
const cause = inner ? (inner.cause && typeof inner.cause === 'object' && !(inner.cause instanceof Error) ? JSON.stringify(inner.cause) : inner.message) : r.error.message;
out({ kind: 'result', status, ...arns, error: inner?.name ?? (status === 'TIMED_OUT' ? 'States.Timeout' : r.error.name), cause });
process.exit(2);
