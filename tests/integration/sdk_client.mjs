// The real MCP client (@modelcontextprotocol/sdk, streamable-HTTP transport)
// driving Flowgate. Usage:
//   node sdk_client.mjs <scenario> <url> <authorization> [args...]
// Prints one JSON object on stdout with what it observed; the C test
// (test_sdk_client.c) asserts on it. Exit status 0 unless the script itself
// broke (assertions live in the C test, so failures show both sides).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [scenario, url, auth, ...rest] = process.argv.slice(2);

async function connect(name = "flowgate-test") {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: auth } },
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

function text(result) {
  return (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join("");
}

async function basic(prefix) {
  // prefix: "" in routed mode, "everything___" in unified mode.
  const out = {};
  const { client, transport } = await connect();
  out.serverInfo = client.getServerVersion();
  out.capabilities = client.getServerCapabilities();
  out.sessionId = transport.sessionId;
  const tools = await client.listTools();
  out.tools = tools.tools.map((t) => t.name);
  if (out.capabilities.prompts) {
    out.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    const got = await client.getPrompt({ name: prefix + "simple-prompt" });
    out.promptText = got.messages.map((m) => m.content.text).join("");
  }
  out.echo = text(await client.callTool({ name: prefix + "echo", arguments: { message: "hello flowgate" } }));
  out.sum = text(await client.callTool({ name: prefix + "get-sum", arguments: { a: 2, b: 40 } }));
  // A tool error: a bad argument type is reported by the server as isError.
  const bad = await client.callTool({ name: prefix + "get-sum", arguments: { a: "x", b: 1 } });
  out.badIsError = bad.isError === true;
  out.badText = text(bad);
  // Progress: notifications flow on the POST's SSE stream before the result.
  const progress = [];
  const long = await client.callTool(
    { name: prefix + "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p) },
  );
  out.progress = progress;
  out.longText = text(long);
  // Unknown tool: a JSON-RPC error from the gateway.
  try {
    await client.callTool({ name: prefix + "no-such-tool", arguments: {} });
    out.unknown = "no error";
  } catch (e) {
    out.unknown = String(e.message || e);
  }
  out.ping = await client.ping();
  await transport.terminateSession();
  out.terminated = transport.sessionId === undefined;
  await client.close();
  return out;
}

async function memory(prefix) {
  const { client } = await connect();
  const tools = await client.listTools();
  const created = await client.callTool({
    name: prefix + "create_entities",
    arguments: { entities: [{ name: "flowgate", entityType: "project", observations: ["written in C"] }] },
  });
  const graph = await client.callTool({ name: prefix + "read_graph", arguments: {} });
  await client.close();
  return { tools: tools.tools.map((t) => t.name), created: text(created), graph: text(graph) };
}

async function concurrent(prefix, nclients, ncalls) {
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: nclients }, async (_, c) => {
      const { client } = await connect(`client-${c}`);
      let matched = 0;
      const mismatches = [];
      for (let i = 0; i < ncalls; i++) {
        const msg = `client ${c} call ${i}`;
        const r = await client.callTool({ name: prefix + "echo", arguments: { message: msg } });
        if (text(r) === `Echo: ${msg}`) matched++;
        else mismatches.push(text(r));
      }
      await client.close();
      return { matched, mismatches };
    }),
  );
  return {
    clients: nclients,
    matched: results.reduce((a, r) => a + r.matched, 0),
    mismatches: results.flatMap((r) => r.mismatches).slice(0, 5),
    ms: Date.now() - started,
  };
}

async function call(prefix, tool, argsJson) {
  const { client } = await connect();
  try {
    const r = await client.callTool({ name: prefix + tool, arguments: JSON.parse(argsJson || "{}") });
    return { ok: true, isError: r.isError === true, text: text(r) };
  } catch (e) {
    return { ok: false, error: String(e.message || e) };
  } finally {
    await client.close();
  }
}

let result;
try {
  switch (scenario) {
    case "basic": result = await basic(rest[0] || ""); break;
    case "memory": result = await memory(rest[0] || ""); break;
    case "concurrent": result = await concurrent(rest[0] || "", +rest[1] || 50, +rest[2] || 20); break;
    case "call": result = await call(rest[0] || "", rest[1], rest[2]); break;
    default: throw new Error(`unknown scenario ${scenario}`);
  }
} catch (e) {
  result = { scriptError: String(e.stack || e) };
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
