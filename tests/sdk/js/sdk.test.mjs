// The official JS SDK (@langchain/langgraph-sdk) against orrery-runtime, started on a free
// loopback port with a fresh data dir. Nobody here wrote this client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const exe = join(target, "debug", "orrery-runtime");
const ECHO_ID = "046b5dc7-2108-582c-9c6c-31d556d138f0";

// ORRERY_SDK_BACKEND=postgres runs the same tests on a PostgreSQL database of their own.
const backend = process.env.ORRERY_SDK_BACKEND ?? "sqlite";
const pgBase = process.env.ORRERY_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";
const psql = (sql) => execFileSync("psql", [`${pgBase}/postgres`, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]);
let proc, dataDir, client, pgDb;

const freePort = () =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

before(async () => {
  assert.ok(existsSync(exe), `${exe} is missing: build the workspace first`);
  dataDir = mkdtempSync(join(tmpdir(), "orrery-js-"));
  const port = await freePort();
  const env = { ...process.env, RUST_LOG: "warn" };
  // Neither the developer's database nor their provider keys (with one, the bundled Jarvis
  // example would use a real provider).
  for (const k of ["DATABASE_URI", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"]) delete env[k];
  if (backend === "postgres") {
    pgDb = `orrery_js_${Date.now()}_${process.pid}`;
    psql(`CREATE DATABASE ${pgDb}`);
    env.DATABASE_URI = `${pgBase}/${pgDb}`;
  }
  proc = spawn(exe, ["dev", "--port", String(port), "--data-dir", dataDir], {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/ok`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  client = new Client({ apiUrl: url });
});

after(async () => {
  if (proc) {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (pgDb) psql(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
});

const human = (text) => ({ messages: [{ role: "user", content: text }] });
const contents = (v) => v.messages.map((m) => m.content);

test("assistants", async () => {
  const found = await client.assistants.search({ graphId: "echo" });
  assert.deepEqual(found.map((a) => a.assistant_id), [ECHO_ID]);
  const graph = await client.assistants.getGraph("echo");
  assert.ok(graph.edges.some((e) => e.source === "__start__" && e.target === "echo"));
  const mine = await client.assistants.create({ graphId: "echo", name: "js" });
  const updated = await client.assistants.update(mine.assistant_id, { name: "js2" });
  assert.equal(updated.version, 2);
  await client.assistants.delete(mine.assistant_id);
});

test("threads, wait, state and history", async () => {
  const t = await client.threads.create({ metadata: { who: "js" } });
  const out = await client.runs.wait(t.thread_id, "echo", { input: human("hi js") });
  assert.deepEqual(contents(out), ["hi js", "hi js"]);
  const state = await client.threads.getState(t.thread_id);
  assert.deepEqual(state.next, []);
  const history = await client.threads.getHistory(t.thread_id, { limit: 10 });
  assert.deepEqual(history.map((h) => h.metadata.source), ["loop", "loop", "input"]);
  const found = await client.threads.search({ metadata: { who: "js" } });
  assert.deepEqual(found.map((x) => x.thread_id), [t.thread_id]);
});

test("stream with several modes", async () => {
  const t = await client.threads.create();
  const events = [];
  for await (const chunk of client.runs.stream(t.thread_id, "echo", {
    input: human("streamed"),
    streamMode: ["values", "updates"],
  })) {
    events.push(chunk);
  }
  assert.deepEqual(events.map((e) => e.event), ["metadata", "values", "updates", "values"]);
  assert.equal(events[2].data.echo.messages[0].content, "streamed");
});

test("background run, join and reject", async () => {
  const t = await client.threads.create();
  const first = await client.runs.create(t.thread_id, "echo", {
    input: human("one"),
    config: { configurable: { delay_ms: 300 } },
  });
  await assert.rejects(
    client.runs.create(t.thread_id, "echo", { input: human("no"), multitaskStrategy: "reject" }),
    /409|already running/,
  );
  const out = await client.runs.join(t.thread_id, first.run_id);
  assert.deepEqual(contents(out), ["one", "one"]);
  const run = await client.runs.get(t.thread_id, first.run_id);
  assert.equal(run.status, "success");
});
