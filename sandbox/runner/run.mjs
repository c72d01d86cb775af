// Runs a state machine definition with aws-local-stepfunctions (Node >= 22). Package
// sandbox/runner (Go) drives it; every Task state is handed back to the Go side over HTTP,
// which runs the real Lambda binaries, publishes to SNS and reads S3 on the local stand-in.
//
//   node run.mjs --validate < definition.json
//       checks the definition with the interpreter's own validator (asl-validator, ARNs and
//       JSONPaths included); exit 0 when valid, 1 with the problems on stderr.
//   node run.mjs < job.json
//       job: {definition, input, context, controlUrl, retryIntervalOverrides}. Writes one JSON
//       line per execution event, {"event": ...}, then {"result": {"status": "SUCCEEDED",
//       "output": ...}} or {"result": {"status": "FAILED", "error": ..., "cause": ...}}.
import { StateMachine } from 'aws-local-stepfunctions';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// taskStates returns [name, state] for every Task state, also those inside Map and Parallel.
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

// localHandler posts a Task state's effective input to the Go side and returns its result,
// or throws an error whose name is the error the ASL's Retry and Catch match.
function localHandler(controlUrl, name, resource) {
  return async (input) => {
    const response = await fetch(`${controlUrl}/task`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ state: name, resource, input }),
    });
    if (!response.ok) {
      const error = new Error(`local runner: task ${name}: HTTP ${response.status}: ${await response.text()}`);
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
  };
}

function write(line) {
  return new Promise((resolve) => {
    if (process.stdout.write(JSON.stringify(line) + '\n')) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function run(job) {
  const machine = new StateMachine(job.definition);
  const handlers = {};
  for (const [name, state] of taskStates(job.definition)) {
    handlers[name] = localHandler(job.controlUrl, name, state.Resource);
  }
  const execution = machine.run(job.input, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: job.retryIntervalOverrides ?? {} },
    context: job.context,
  });
  const events = (async () => {
    for await (const event of execution.eventLogs) await write({ event });
  })();
  let result;
  try {
    result = { status: 'SUCCEEDED', output: await execution.result };
  } catch (err) {
    const failure = err.cause ?? err; // ExecutionError wraps what failed the execution
    result = { status: 'FAILED', error: failure.name, cause: failure.message };
  }
  await events;
  await write({ result });
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
