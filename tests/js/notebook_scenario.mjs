// A notebook front end's day, through @jupyterlab/services against jls serve:
// create a notebook, open a session for it, run a cell, save the notebook with
// the output, read it back, shut the session down. Exits non-zero on any failure.
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  ContentsManager,
  KernelManager,
  KernelSpecManager,
  ServerConnection,
  SessionManager,
} from "@jupyterlab/services";

const baseUrl = process.env.JLS_URL;
const token = process.env.JLS_TOKEN;
const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, "ws"),
  token,
  appendToken: true,
  WebSocket,
});

const kernelspecs = new KernelSpecManager({ serverSettings });
await kernelspecs.ready;
assert.ok(kernelspecs.specs.kernelspecs.python3, "python3 kernelspec listed");

const contents = new ContentsManager({ serverSettings });
const untitled = await contents.newUntitled({ path: "", type: "notebook" });
assert.equal(untitled.type, "notebook");

const kernelManager = new KernelManager({ serverSettings });
const sessions = new SessionManager({ kernelManager, serverSettings });
await sessions.ready;
const session = await sessions.startNew({
  path: untitled.path,
  name: untitled.name,
  type: "notebook",
  kernel: { name: "python3" },
});
const kernel = session.kernel;
assert.ok(kernel, "session has a kernel");
// As JupyterLab does: the connection's own kernel_info handshake first.
const firstInfo = await kernel.info;
assert.equal(firstInfo.status, "ok");
assert.equal(kernel.connectionStatus, "connected");
const info = await kernel.requestKernelInfo();
assert.equal(info.content.status, "ok");

let output = "";
const future = kernel.requestExecute({ code: "print(6 * 7)" });
future.onIOPub = (msg) => {
  if (msg.header.msg_type === "stream") output += msg.content.text;
};
const reply = await future.done;
assert.equal(reply.content.status, "ok");
assert.equal(output, "42\n");

const current = await contents.get(untitled.path);
const notebook = current.content;
notebook.cells.push({
  cell_type: "code",
  id: "cell-0",
  source: "print(6 * 7)",
  metadata: {},
  execution_count: reply.content.execution_count,
  outputs: [{ output_type: "stream", name: "stdout", text: output }],
});
const saved = await contents.save(untitled.path, { type: "notebook", format: "json", content: notebook });
assert.equal(saved.path, untitled.path);

const reread = await contents.get(untitled.path);
assert.equal(reread.content.cells.length, 1);
assert.equal(reread.content.cells[0].source, "print(6 * 7)");
assert.equal(reread.content.cells[0].outputs[0].text, "42\n");

const running = [...sessions.running()];
assert.equal(running.length, 1);
await session.shutdown();
await sessions.refreshRunning();
assert.equal([...sessions.running()].length, 0);
const kernelsLeft = await fetch(`${baseUrl}api/kernels`, { headers: { Authorization: `token ${token}` } });
assert.deepEqual(await kernelsLeft.json(), []);

sessions.dispose();
kernelManager.dispose();
console.log(JSON.stringify({ ok: true, path: untitled.path, output }));
process.exit(0);
