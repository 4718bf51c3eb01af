// The DIFC pipeline scenarios of test_e2e_pipeline.c, driven by the real MCP
// client (@modelcontextprotocol/sdk, streamable HTTP). Usage:
//   node pipeline_sdk.mjs <base-url> <authorization> <agent-prefix>
// Each scenario is its own agent (X-Agent-ID: <prefix><name>) on the routed
// endpoint of one server (/mcp/<server>). Prints one JSON object with what it
// observed; the C test asserts on it (so failures show both sides).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [base, auth, prefix] = process.argv.slice(2);

async function connect(server, agent) {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp/${server}`), {
    requestInit: { headers: { Authorization: auth, "X-Agent-ID": prefix + agent } },
  });
  const client = new Client({ name: "pipeline-sdk", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

function text(result) {
  return (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

// {ok, text, isError} for a result, {error} for a JSON-RPC error.
async function call(client, name, args = {}) {
  const t0 = Date.now();
  try {
    const r = await client.callTool({ name, arguments: args });
    return { text: text(r), isError: r.isError === true, ms: Date.now() - t0 };
  } catch (e) {
    return { error: String(e.message || e), ms: Date.now() - t0 };
  }
}

async function reflect(agent) {
  const r = await fetch(`${base}/reflect`, { headers: { Authorization: auth } });
  const doc = await r.json();
  return doc.agents[prefix + agent] || null;
}

async function health(server) {
  const r = await fetch(`${base}/health`, { headers: { Authorization: auth } });
  return (await r.json()).servers[server].guard;
}

async function main() {
  const out = {};
  // Filter mode (demo guard): allowed read, item filtering, a single-item
  // read filtered, a denied write.
  let c = await connect("demo", "reader");
  out.notes = await call(c, "list_public_notes");
  out.list = await call(c, "list_issues");
  out.private = await call(c, "get_issue", { number: 2 });
  out.write = await call(c, "create_issue", { title: "sdk write never arrives" });
  out.readerLabels = await reflect("reader");
  await c.close();
  // Strict mode.
  c = await connect("strict", "strict");
  out.strictList = await call(c, "list_issues");
  out.strictLabels = await reflect("strict");
  await c.close();
  // Propagate: a public-sink write allowed, then denied after a private read.
  const sink = await connect("sink", "tainted");
  const prop = await connect("prop", "tainted");
  out.sinkBefore = await call(sink, "create_issue", { title: "sdk before", visibility: "public" });
  out.propList = await call(prop, "list_issues");
  out.taintedLabels = await reflect("tainted");
  out.sinkAfter = await call(sink, "create_issue", { title: "sdk after", visibility: "public" });
  await sink.close();
  await prop.close();
  // A trap, then a good call on the same guard.
  c = await connect("trap", "trapper");
  out.trap = await call(c, "get_issue", { number: 1, note: "__trap__" });
  out.afterTrap = await call(c, "get_issue", { number: 1 });
  out.trapHealth = await health("trap");
  await c.close();
  // A guard stuck in a loop: answered at the tool timeout (10 s).
  c = await connect("loop", "looper");
  out.loop = await call(c, "get_issue", { number: 1, note: "__loop__" });
  out.afterLoop = await call(c, "get_issue", { number: 1 });
  await c.close();
  // Tool-call limit (2 on list_public_notes).
  c = await connect("demo", "limited");
  out.limit = [];
  for (let i = 0; i < 3; i++) out.limit.push(await call(c, "list_public_notes"));
  await c.close();
  return out;
}

main()
  .then((out) => console.log(JSON.stringify(out)))
  .catch((e) => console.log(JSON.stringify({ scriptError: String((e && e.stack) || e) })));
