// farmhand's router driven by the official `openai` npm client, as a new user would drive it.
//
// For every task class: a single tool call, parallel tool calls, parallel tool calls streamed and
// reassembled by the client's ChatCompletionStream, a multi-turn conversation that sends the tool
// results back, JSON schema output parsed by the client, an image part, and `n: 2`.
//
//     node tests/clients/openai_node.mjs --base-url http://127.0.0.1:8080/v1 [--api-key KEY]
//
// Each request carries `X-Agent-Id: node/<class>/<case>` so that the router's decision records say
// which case they belong to (the router names agents that way when it has no keys). Prints one
// line per case and exits 1 when any case fails. tests/official_clients.rs runs it against the
// simulated farm; `npm ci` in tests/clients installs the pinned client.

import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

const CLASSES = ['routine', 'reasoning', 'orchestration', 'sensitive', 'auto'];

// The classes whose route carries `n` under the default policy: Ollama answers one choice, so
// routine work asking for two leaves the nodes for the OpenAI-kind frontier, which answers two;
// Anthropic and sensitive work (which never leaves the farm) refuse it with a 400 naming `n`.
const N_CHOICES_DEFAULT = 'routine,auto';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city', 'days'],
    },
  },
};
const TIME = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'Local time in a time zone',
    parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
};
const TOOLS = Object.fromEntries([WEATHER, TIME].map((tool) => [tool.function.name, tool]));
const QUESTION = 'What is the weather in Oslo, and what time is it there?';
// A 1×1 PNG.
const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf' +
  'DwAChwGA60e6kgAAAABJRU5ErkJggg==';
const NODE_PICK = {
  name: 'node_pick',
  strict: true,
  schema: {
    type: 'object',
    properties: { node: { type: 'string' }, free_gb: { type: 'number' } },
    required: ['node', 'free_gb'],
    additionalProperties: false,
  },
};

/** A case's expectation that did not hold. */
class Failure extends Error {}

function expect(condition, what) {
  if (!condition) throw new Failure(what);
}

/** Checks `value` against the JSON Schema subset the cases use (types, required, properties, enum). */
function checkSchema(value, schema, at = '$') {
  const is = {
    object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
    array: Array.isArray,
    string: (v) => typeof v === 'string',
    boolean: (v) => typeof v === 'boolean',
    integer: Number.isInteger,
    number: (v) => typeof v === 'number',
  };
  if (schema.type in is) {
    expect(is[schema.type](value), `${at} is ${JSON.stringify(value)}, not ${schema.type}`);
  }
  if (schema.enum) {
    expect(schema.enum.includes(value), `${at} is ${JSON.stringify(value)}, not one of ${schema.enum}`);
  }
  if (is.object(value)) {
    const properties = schema.properties ?? {};
    for (const name of schema.required ?? []) expect(name in value, `${at} lacks the required \`${name}\``);
    if (schema.additionalProperties === false) {
      const extra = Object.keys(value).filter((name) => !(name in properties));
      expect(extra.length === 0, `${at} has properties outside the schema: ${extra}`);
    }
    for (const [name, item] of Object.entries(value)) {
      if (name in properties) checkSchema(item, properties[name], `${at}.${name}`);
    }
  }
}

/** Checks tool calls (ids, names in order, arguments valid for each tool's schema); describes them. */
function checkCalls(calls, names) {
  const got = calls.map((call) => call.function.name);
  expect(JSON.stringify(got) === JSON.stringify(names), `tool calls ${JSON.stringify(got)}, expected ${JSON.stringify(names)}`);
  const ids = calls.map((call) => call.id);
  expect(ids.every(Boolean) && new Set(ids).size === ids.length, `tool call ids must be present and distinct: ${ids}`);
  return calls
    .map((call) => {
      expect(call.type === 'function', `tool call type ${call.type}`);
      let args;
      try {
        args = JSON.parse(call.function.arguments);
      } catch (err) {
        throw new Failure(`${call.function.name} arguments are not JSON (${err.message}): ${call.function.arguments}`);
      }
      checkSchema(args, TOOLS[call.function.name].function.parameters, call.function.name);
      return `${call.function.name}${JSON.stringify(args)}`;
    })
    .join(', ');
}

/** One line per tool-call delta or finish reason of a streamed chunk, as the client received it. */
function describeChunk(chunk) {
  const lines = [];
  for (const choice of chunk.choices) {
    for (const call of choice.delta.tool_calls ?? []) {
      const parts = [`tool_calls[${call.index}]`];
      if (call.id) parts.push(`id=${call.id}`);
      if (call.function?.name) parts.push(`name=${call.function.name}`);
      if (call.function?.arguments) parts.push(`arguments+=${JSON.stringify(call.function.arguments)}`);
      lines.push(parts.join(' '));
    }
    if (choice.finish_reason) lines.push(`finish_reason=${choice.finish_reason}`);
  }
  if (chunk.usage) lines.push(`usage prompt=${chunk.usage.prompt_tokens} completion=${chunk.usage.completion_tokens}`);
  return lines;
}

/** The cases for one class, sharing a client. */
class Cases {
  constructor(client, taskClass, nChoices) {
    this.client = client;
    this.taskClass = taskClass;
    this.nChoices = nChoices;
  }

  options(name) {
    return { headers: { 'X-Agent-Id': `node/${this.taskClass}/${name}` } };
  }

  /** A non-streamed completion, and the route the router reports for it. */
  async create(name, params) {
    const { data, response } = await this.client.chat.completions
      .create({ model: this.taskClass, max_tokens: 64, ...params }, this.options(name))
      .withResponse();
    return [data, response.headers.get('x-farmhand-route') ?? '?'];
  }

  ask(tools, name) {
    return this.create(name, { messages: [{ role: 'user', content: QUESTION }], tools });
  }

  async tool_single() {
    const [completion, route] = await this.ask([WEATHER], 'tool_single');
    const choice = completion.choices[0];
    expect(choice.finish_reason === 'tool_calls', `finish_reason ${choice.finish_reason}`);
    return `${route}: ${checkCalls(choice.message.tool_calls ?? [], ['get_weather'])}`;
  }

  async tool_parallel() {
    const [completion, route] = await this.ask([WEATHER, TIME], 'tool_parallel');
    const choice = completion.choices[0];
    expect(choice.finish_reason === 'tool_calls', `finish_reason ${choice.finish_reason}`);
    return `${route}: ${checkCalls(choice.message.tool_calls ?? [], ['get_weather', 'get_time'])}`;
  }

  async tool_stream() {
    const stream = this.client.chat.completions.stream(
      {
        model: this.taskClass,
        messages: [{ role: 'user', content: QUESTION }],
        tools: [WEATHER, TIME],
        max_tokens: 64,
        stream_options: { include_usage: true },
      },
      this.options('tool_stream'),
    );
    const done = [];
    let fragments = 0;
    stream.on('tool_calls.function.arguments.delta', () => (fragments += 1));
    stream.on('tool_calls.function.arguments.done', (event) => done.push([event.index, event.name]));
    const trace = [];
    for await (const chunk of stream) trace.push(...describeChunk(chunk));
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice.finish_reason === 'tool_calls', `finish_reason ${choice.finish_reason}`);
    const calls = checkCalls(choice.message.tool_calls ?? [], ['get_weather', 'get_time']);
    expect(
      JSON.stringify(done) === JSON.stringify([[0, 'get_weather'], [1, 'get_time']]),
      `arguments.done events ${JSON.stringify(done)}`,
    );
    expect(fragments >= 2, `${fragments} argument delta events`);
    expect(final.usage?.prompt_tokens > 0, `usage ${JSON.stringify(final.usage)}`);
    const usage = `${final.usage.prompt_tokens}+${final.usage.completion_tokens}`;
    return [`${fragments} argument deltas reassembled: ${calls}; usage ${usage} tokens`, ...trace.map((line) => `      ${line}`)].join('\n');
  }

  async tool_multi_turn() {
    const messages = [
      { role: 'system', content: 'You answer questions about the weather.' },
      { role: 'user', content: QUESTION },
    ];
    const [first] = await this.create('tool_multi_turn', { messages, tools: [WEATHER, TIME] });
    const message = first.choices[0].message;
    const calls = checkCalls(message.tool_calls ?? [], ['get_weather', 'get_time']);
    messages.push(message);
    for (const call of message.tool_calls) {
      const content = call.function.name === 'get_weather' ? '4 C, cloudy in Oslo' : '14:05 CEST in Oslo';
      messages.push({ role: 'tool', tool_call_id: call.id, content });
    }
    const [answer, route] = await this.create('tool_multi_turn', { messages, tools: [WEATHER, TIME] });
    const choice = answer.choices[0];
    expect(['stop', 'length'].includes(choice.finish_reason), `finish_reason ${choice.finish_reason} after the results`);
    expect(!choice.message.tool_calls?.length, `tool calls again after the results: ${JSON.stringify(choice.message.tool_calls)}`);
    expect(Boolean(choice.message.content), 'no text after the tool results');
    return `${route}: ${calls} → results → ${JSON.stringify(choice.message.content.slice(0, 60))}`;
  }

  async json_schema() {
    const { data: completion, response } = await this.client.chat.completions
      .parse(
        {
          model: this.taskClass,
          messages: [{ role: 'user', content: 'Which node has the most free memory?' }],
          response_format: { type: 'json_schema', json_schema: NODE_PICK },
          max_tokens: 64,
        },
        this.options('json_schema'),
      )
      .withResponse();
    const choice = completion.choices[0];
    expect(choice.finish_reason === 'stop', `finish_reason ${choice.finish_reason}`);
    expect(choice.message.parsed !== null, `nothing parsed from ${JSON.stringify(choice.message.content)}`);
    checkSchema(choice.message.parsed, NODE_PICK.schema);
    return `${response.headers.get('x-farmhand-route') ?? '?'}: ${choice.message.content}`;
  }

  async image() {
    const [completion, route] = await this.create('image', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: PIXEL } },
          ],
        },
      ],
    });
    const choice = completion.choices[0];
    expect(['stop', 'length'].includes(choice.finish_reason), `finish_reason ${choice.finish_reason}`);
    expect(Boolean(choice.message.content), 'no text about the image');
    return `${route}: ${JSON.stringify(choice.message.content.slice(0, 60))}`;
  }

  async n_two() {
    let completion;
    let route;
    try {
      [completion, route] = await this.create('n_two', { messages: [{ role: 'user', content: 'Name a colour.' }], n: 2 });
    } catch (err) {
      if (!(err instanceof OpenAI.BadRequestError)) throw err;
      expect(!this.nChoices, `refused (${err.message}) where two choices were expected`);
      expect(err.status === 400, `status ${err.status}`);
      expect(err.param === 'n', `param ${err.param}, expected 'n'`);
      expect(err.message.includes('`n`'), `the message does not name \`n\`: ${err.message}`);
      return `${err.status} ${err.code}: ${err.message}`;
    }
    const indices = completion.choices.map((choice) => choice.index);
    expect(this.nChoices, `${route} answered ${indices.length} choice(s) where a 400 naming \`n\` was expected`);
    expect(JSON.stringify(indices) === '[0,1]', `${route} answered choices ${JSON.stringify(indices)}, expected [0,1]`);
    expect(completion.choices.every((choice) => choice.message.content), 'an empty choice');
    return `${route}: two choices`;
  }
}

const CASES = ['tool_single', 'tool_parallel', 'tool_stream', 'tool_multi_turn', 'json_schema', 'image', 'n_two'];

async function main() {
  const { values } = parseArgs({
    options: {
      'base-url': { type: 'string', default: process.env.OPENAI_BASE_URL ?? '' },
      'api-key': { type: 'string', default: process.env.OPENAI_API_KEY || 'no-key-on-loopback' },
      classes: { type: 'string', default: CLASSES.join(',') },
      'n-choices': { type: 'string', default: N_CHOICES_DEFAULT },
    },
  });
  if (!values['base-url']) {
    console.error('usage: node openai_node.mjs --base-url URL [--api-key KEY] [--classes LIST] [--n-choices LIST]');
    return 2;
  }
  const client = new OpenAI({ baseURL: values['base-url'], apiKey: values['api-key'], maxRetries: 0, timeout: 60_000 });
  const nChoices = new Set(values['n-choices'].split(',').filter(Boolean));
  console.log(`openai-node ${VERSION} against ${values['base-url']}`);
  let passed = 0;
  let failed = 0;
  for (const taskClass of values.classes.split(',').filter(Boolean)) {
    const cases = new Cases(client, taskClass, nChoices.has(taskClass));
    for (const name of CASES) {
      const label = `${taskClass.padEnd(13)} ${name.padEnd(15)}`;
      try {
        const detail = await cases[name]();
        passed += 1;
        console.log(`PASS ${label} ${detail}`);
      } catch (err) {
        failed += 1;
        if (err instanceof Failure) console.log(`FAIL ${label} ${err.message}`);
        else if (err instanceof OpenAI.APIError) console.log(`FAIL ${label} ${err.constructor.name} ${err.status}: ${err.message}`);
        // The client's own checks of an answer (length, parsing) and JSON errors are the case's failure.
        else if (err instanceof OpenAI.OpenAIError || err instanceof SyntaxError) console.log(`FAIL ${label} ${err.constructor.name}: ${err.message}`);
        else console.log(`FAIL ${label} ${err.stack ?? err}`);
      }
    }
  }
  console.log(`node: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
