// A module hook (node:module register) that makes aws-local-stepfunctions 3.0.0 evaluate
// intrinsic functions as Step Functions does. The interpreter removes every backslash from
// the string an intrinsic function returns (BaseIntrinsicFunction.call), to undo the escapes
// of States.Format's template; that also strips the escapes from the JSON that
// States.JsonToString writes — a value with a quote in it (an error's Cause, a message)
// comes out as JSON that does not parse — and from any value with a backslash. Step
// Functions applies the escapes \' \{ \} \\ to a function's string literals only
// (Amazon States Language, Intrinsic functions: "Reserved characters"), and an escaped brace
// in a States.Format template is a brace, not a placeholder. The interpreter's module is
// patched as it loads, text for text; a pattern not found (another version) fails the load.
const LIBRARY = '/aws-local-stepfunctions/build/main.node.esm.js';

// Escaped braces of a literal stand as these characters (Unicode private use) until
// States.Format has put in its values, so that "\{}" is no placeholder.
const PATCHES = [
  // the result keeps its backslashes; escaped braces of a literal become braces
  ['      result = result.replaceAll("\\\\", "");',
    '      result = result.replace(/\\uE000/g, "{").replace(/\\uE001/g, "}");'],
  // a string literal argument is unescaped: \{ and \} to the stand-ins, \X to X
  ['      return arg.slice(1, lastSingleQuote);',
    '      return arg.slice(1, lastSingleQuote).replace(/\\\\(.)/gs, (_, c) => (c === "{" ? "\\uE000" : c === "}" ? "\\uE001" : c));'],
];

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.endsWith(LIBRARY)) return result;
  let source = Buffer.from(result.source).toString('utf8');
  for (const [from, to] of PATCHES) {
    if (source.split(from).length !== 2) {
      throw new Error(`sandbox/runner/intrinsics.mjs: ${url} does not contain, once, ${JSON.stringify(from)}: is aws-local-stepfunctions still 3.0.0 (package.json)?`);
    }
    source = source.replace(from, to);
  }
  return { ...result, source };
}
