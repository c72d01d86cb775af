// Runs a state machine definition with aws-local-stepfunctions (Node >= 22). Package
// sandbox/runner (Go) drives it; every Task state is handed back to the Go side over HTTP,
// which runs the real Lambda binaries, publishes to SNS and reads and writes S3 on the local
// stand-in.
//
//   node run.mjs --validate < definition.json
//       checks the definition with the interpreter's own validator (asl-validator, ARNs and
//       JSONPaths included); exit 0 when valid, 1 with the problems on stderr.
//   node run.mjs < job.json
//       job: {definition, maps, input, context, controlUrl, retryIntervalOverrides} (see
//       Localize in definition.go: maps are the Distributed Maps this file runs). Writes one
//       JSON line per event of the top execution, {"event": ...}; one per Map Run started,
//       {"mapRun": {map, depth, items}}; one per child execution ended, {"child": {id, map,
//       depth, index, status, error, cause, events, largestPayload}}; then {"result":
//       {"status": "SUCCEEDED", "output": ...} or {"status": "FAILED", "error", "cause"},
//       "stats": {executions, mostEvents, mostEventsIn, largestPayload, largestPayloadAt,
//       transitions}}.
//
// As the service, and unlike the interpreter alone, this runs each Distributed Map item as a
// child execution of its own, and enforces per execution the 256 KiB payload limit
// (States.DataLimitExceeded, which no Catch of States.ALL catches: the execution fails) and
// the 25,000-event history limit, counted as the service counts history events.
import { register } from 'node:module';

// intrinsics.mjs patches the interpreter's intrinsic functions as it loads: it must be
// registered before the interpreter is imported.
register('./intrinsics.mjs', import.meta.url);
const { StateMachine } = await import('aws-local-stepfunctions');

const PAYLOAD_LIMIT = 256 * 1024;
const HISTORY_LIMIT = 25000;
const DISTRIBUTED_MAP = 'arn:aws:states:::local:distributedMap';
const S3_GET = 'arn:aws:states:::s3:getObject';
const S3_PUT = 'arn:aws:states:::aws-sdk:s3:putObject';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function write(line) {
  return new Promise((resolve) => {
    if (process.stdout.write(JSON.stringify(line) + '\n')) resolve();
    else process.stdout.once('drain', resolve);
  });
}

// taskStates returns [name, state] for every Task state of a machine, also those inside
// inline Maps and Parallels (a Distributed Map is a Task here: its states are a child's).
function taskStates(definition) {
  const out = [];
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    if (state.Type === 'Task') out.push([name, state]);
    for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      if (inner) out.push(...taskStates(inner));
    }
  }
  return out;
}

// An error that fails an execution whatever its Catch says.
class LimitError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

const bytes = (value) => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value), 'utf8'));

// Run-wide figures: the largest payload and the most history events of any execution, and
// the state transitions of all of them (Step Functions Standard bills each state entered
// and each retry; a Distributed Map's Standard children are billed the same way).
const stats = { executions: 0, mostEvents: 0, mostEventsIn: '', largestPayload: 0, largestPayloadAt: '', transitions: 0 };

// Execution is one execution (the top one, or a Distributed Map's child): its history events
// as the service counts them, and its payloads against the limits.
class Execution {
  constructor(id, definition, job, depth) {
    this.id = id;
    this.job = job;
    this.depth = depth;
    this.events = 0;
    this.largestPayload = 0;
    this.caught = new Set();
    this.failure = null;
    this.resources = {};
    for (const [name, state] of taskStates(definition)) this.resources[name] = state.Resource;
    this.machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
    stats.executions++;
  }

  kind(name, type) {
    if (type !== 'Task') return type;
    const resource = this.resources[name] ?? '';
    if (resource === DISTRIBUTED_MAP) return 'DistributedMap';
    return resource.startsWith('arn:aws:states:::') ? 'ServiceTask' : 'LambdaTask';
  }

  // serviceEvents is how many history events the service records for an interpreter event
  // (statemachine's history test has the same model): a Lambda Task is TaskStateEntered,
  // LambdaFunctionScheduled, LambdaFunctionStarted, then LambdaFunctionSucceeded and
  // TaskStateExited; a service integration adds TaskSubmitted; each failure is one event and
  // each retry schedules and starts again; a Distributed Map is MapStateEntered,
  // MapRunStarted, MapRunSucceeded and MapStateExited; an inline Map's iterations are
  // MapIterationStarted and MapIterationSucceeded/Failed.
  serviceEvents(event) {
    const s = event.state ?? {};
    const key = `${event.index ?? ''}/${s.name}`;
    const kind = this.kind(s.name, s.type);
    const entered = { LambdaTask: 3, ServiceTask: 4, DistributedMap: 2, Map: 2, Parallel: 2 };
    const retried = { LambdaTask: 2, ServiceTask: 3, DistributedMap: 1 };
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'StateFailed':
        return 1;
      case 'StateEntered':
        return entered[kind] ?? 1;
      case 'StateRetried':
        return retried[kind] ?? 1;
      case 'StateCaught':
        this.caught.add(key);
        return 0;
      case 'StateExited':
        if (this.caught.delete(key)) return 1;
        return ['LambdaTask', 'ServiceTask', 'DistributedMap', 'Map', 'Parallel'].includes(kind) ? 2 : 1;
      default:
        return 0;
    }
  }

  // fail ends the execution with an error no Catch can catch, as the service does.
  fail(name, message) {
    if (!this.failure) {
      this.failure = { error: name, cause: message };
      this.abort?.();
    }
    return new LimitError(name, message);
  }

  payload(value, what) {
    const n = bytes(value);
    if (n > this.largestPayload) this.largestPayload = n;
    if (n > stats.largestPayload) {
      stats.largestPayload = n;
      stats.largestPayloadAt = `${this.id}: ${what}`;
    }
    if (n > PAYLOAD_LIMIT) {
      throw this.fail('States.DataLimitExceeded', `${what} is ${n} bytes, over the ${PAYLOAD_LIMIT}-byte payload limit`);
    }
  }

  observe(event) {
    this.events += this.serviceEvents(event);
    if (event.type === 'StateEntered' || event.type === 'StateRetried') stats.transitions++;
    if (this.events > stats.mostEvents) {
      stats.mostEvents = this.events;
      stats.mostEventsIn = this.id;
    }
    try {
      const s = event.state;
      if (event.type === 'ExecutionStarted') this.payload(event.input, 'the execution input');
      if (event.type === 'ExecutionSucceeded') this.payload(event.output, 'the execution output');
      if (event.type === 'StateEntered') this.payload(s.input, `the input of state ${s.name}`);
      if (event.type === 'StateExited') this.payload(s.output, `the output of state ${s.name}`);
    } catch {
      // fail() has aborted the execution
    }
    if (this.events > HISTORY_LIMIT) {
      this.fail('States.Runtime', `the execution history exceeded ${HISTORY_LIMIT} events, Step Functions' hard limit`);
    }
  }

  handlers() {
    const out = {};
    for (const [name, resource] of Object.entries(this.resources)) {
      out[name] = resource === DISTRIBUTED_MAP
        ? (input) => distributedMap(this, name, input)
        : (input) => this.task(name, resource, input);
    }
    return out;
  }

  // task posts a Task state's effective input to the Go side and returns its result, or
  // throws an error whose name is the error the ASL's Retry and Catch match.
  async task(name, resource, input) {
    this.payload(input, `the parameters of task ${name}`);
    const output = await control(this.job, name, resource, input);
    this.payload(output, `the result of task ${name}`);
    return output;
  }

  // run runs the execution to its end: {status, output} or {status, error, cause}.
  async run(input, context, onEvent) {
    const execution = this.machine.run(input, {
      overrides: { taskResourceLocalHandlers: this.handlers(), retryIntervalOverrides: this.job.retryIntervalOverrides ?? {} },
      context,
    });
    this.abort = () => execution.abort();
    const events = (async () => {
      for await (const event of execution.eventLogs) {
        this.observe(event);
        if (onEvent) await onEvent(event);
      }
    })();
    let result;
    try {
      result = { status: 'SUCCEEDED', output: await execution.result };
      this.payload(result.output, 'the execution output');
    } catch (err) {
      const failure = err.cause ?? err; // ExecutionError wraps what failed the execution
      result = { status: 'FAILED', error: failure.name, cause: failure.message };
    }
    await events;
    if (this.failure) result = { status: 'FAILED', ...this.failure };
    return result;
  }
}

async function control(job, state, resource, input) {
  const response = await fetch(`${job.controlUrl}/task`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ state, resource, input }),
  });
  if (!response.ok) {
    const error = new Error(`local runner: task ${state}: HTTP ${response.status}: ${await response.text()}`);
    error.name = 'States.TaskFailed';
    throw error;
  }
  const answer = await response.json();
  if (answer.error) {
    const error = new Error(answer.error.cause);
    error.name = answer.error.error;
    throw error;
  }
  return answer.output;
}

// path reads a reference path ($.a.b, or $$.a.b in the context object); the local runner's
// Distributed Maps take no intrinsic functions in their ItemReader, ItemSelector and
// ResultWriter parameters.
function path(expr, input, context) {
  let value;
  let rest;
  if (expr.startsWith('$$')) [value, rest] = [context, expr.slice(2)];
  else if (expr.startsWith('$')) [value, rest] = [input, expr.slice(1)];
  else throw new Error(`local runner: ${expr} is not a reference path (intrinsic functions are not supported here)`);
  for (const field of rest.split('.').filter(Boolean)) {
    if (value === null || typeof value !== 'object' || !(field in value)) {
      const error = new Error(`The JSONPath ${expr} could not be found in the input`);
      error.name = 'States.Runtime';
      throw error;
    }
    value = value[field];
  }
  return value;
}

// template evaluates a payload template: fields ending in .$ take a path's value.
function template(tpl, input, context) {
  if (tpl === null || typeof tpl !== 'object' || Array.isArray(tpl)) return tpl;
  const out = {};
  for (const [key, value] of Object.entries(tpl)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = path(value, input, context);
    else out[key] = template(value, input, context);
  }
  return out;
}

function uuid() {
  return crypto.randomUUID();
}

// distributedMap runs a Distributed Map of the execution parent with the service's semantics.
async function distributedMap(parent, name, input) {
  const spec = parent.job.maps[name];
  const context = parent.context;
  let items;
  if (spec.ItemReader) {
    const params = template(spec.ItemReader.Parameters ?? {}, input, context);
    items = await control(parent.job, name, S3_GET, params);
  } else {
    items = path(spec.ItemsPath ?? '$', input, context);
  }
  if (!Array.isArray(items)) {
    const error = new Error(`the items of Map ${name} are not an array`);
    error.name = 'States.Runtime';
    throw error;
  }
  const mapRunId = uuid();
  const executionArn = parent.context.Execution.Id;
  const [, , , region, account] = executionArn.split(':');
  const mapRunArn = `arn:aws:states:${region}:${account}:mapRun:${parent.context.StateMachine.Name}/${name}:${mapRunId}`;
  await write({ mapRun: { map: name, depth: parent.depth, items: items.length } });

  const processor = JSON.parse(JSON.stringify(spec.ItemProcessor));
  delete processor.ProcessorConfig;
  const selector = spec.ItemSelector ?? spec.Parameters;
  const results = new Array(items.length);
  const concurrency = spec.MaxConcurrency > 0 ? spec.MaxConcurrency : Math.max(1, items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      const itemContext = { ...context, Map: { Item: { Index: index, Value: items[index] } } };
      const childInput = selector ? template(selector, input, itemContext) : items[index];
      const id = `${parent.id}/${name}/${index}`;
      const child = new Execution(id, processor, parent.job, parent.depth + 1);
      const childArn = `arn:aws:states:${region}:${account}:execution:${parent.context.StateMachine.Name}/${name}:${mapRunId}-${index}`;
      child.context = { Execution: { Id: childArn, Name: `${mapRunId}-${index}`, Input: childInput, StartTime: new Date().toISOString(), RoleArn: context.Execution.RoleArn }, StateMachine: parent.context.StateMachine };
      const startDate = Date.now();
      const result = await child.run(childInput, child.context);
      results[index] = { ...result, input: childInput, arn: childArn, name: child.context.Execution.Name, startDate, stopDate: Date.now() };
      await write({ child: { id, map: name, depth: child.depth, index, status: result.status, error: result.error, cause: result.cause,
        events: child.events, largestPayload: child.largestPayload } });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, items.length)) }, lane));

  const failed = results.filter((r) => r.status !== 'SUCCEEDED');
  const toleratedPercent = spec.ToleratedFailurePercentage ?? 0;
  const toleratedCount = spec.ToleratedFailureCount;
  const overThreshold = failed.length > 0 && (items.length === 0 ? false :
    (100 * failed.length) / items.length > toleratedPercent && (toleratedCount === undefined || failed.length > toleratedCount));

  let output;
  if (spec.ResultWriter?.Resource) {
    const params = template(spec.ResultWriter.Parameters ?? {}, input, context);
    const prefix = `${params.Prefix ? params.Prefix.replace(/\/$/, '') + '/' : ''}${mapRunId}`;
    const detail = (r) => ({
      ExecutionArn: r.arn, Input: JSON.stringify(r.input), InputDetails: { Included: true }, Name: r.name,
      ...(r.status === 'SUCCEEDED' ? { Output: JSON.stringify(r.output), OutputDetails: { Included: true } } : { Error: r.error, Cause: r.cause }),
      RedriveCount: 0, RedriveStatus: 'NOT_REDRIVABLE', StartDate: new Date(r.startDate).toISOString(),
      StateMachineArn: `${mapRunArn}`, Status: r.status, StopDate: new Date(r.stopDate).toISOString(),
    });
    const files = { SUCCEEDED: [], FAILED: [], PENDING: [] };
    for (const [status, list] of [['SUCCEEDED', results.filter((r) => r.status === 'SUCCEEDED')], ['FAILED', failed]]) {
      if (list.length === 0) continue;
      const body = JSON.stringify(list.map(detail));
      const key = `${prefix}/${status}_0.json`;
      await control(parent.job, `${name} ResultWriter`, S3_PUT, { Bucket: params.Bucket, Key: key, Body: body, ContentType: 'application/json' });
      files[status].push({ Key: key, Size: Buffer.byteLength(body) });
    }
    const manifestKey = `${prefix}/manifest.json`;
    const manifest = { DestinationBucket: params.Bucket, MapRunArn: mapRunArn, ResultFiles: files };
    await control(parent.job, `${name} ResultWriter`, S3_PUT, { Bucket: params.Bucket, Key: manifestKey, Body: JSON.stringify(manifest), ContentType: 'application/json' });
    output = { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: params.Bucket, Key: manifestKey } };
  } else {
    output = results.map((r) => (r.status === 'SUCCEEDED' ? r.output : { Error: r.error, Cause: r.cause }));
  }
  if (overThreshold) {
    const error = new Error(`The specified tolerated failure threshold was exceeded: ${failed.length} of ${items.length} child executions of Map ${name} failed (first: ${failed[0].error}: ${failed[0].cause})`);
    error.name = 'States.ExceedToleratedFailureThreshold';
    throw error;
  }
  parent.payload(output, `the result of Map ${name}`);
  return output;
}

async function run(job) {
  const top = new Execution(job.context?.Execution?.Name ?? 'execution', job.definition, job, 0);
  top.context = job.context;
  const result = await top.run(job.input, job.context, (event) => write({ event }));
  await write({ result, stats });
}

const job = await readStdin();
if (process.argv.includes('--validate')) {
  try {
    new StateMachine(job);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
} else {
  await run(job);
}
