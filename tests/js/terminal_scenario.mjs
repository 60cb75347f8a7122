// A terminal through @jupyterlab/services' TerminalManager against jls serve: start
// one, send a command, read its output, shut it down. Prints a JSON summary.
import assert from "node:assert/strict";
import WebSocket from "ws";
import { PageConfig } from "@jupyterlab/coreutils";
import { ServerConnection, TerminalManager } from "@jupyterlab/services";

// In a browser JupyterLab reads this from the page config jls serves at /lab.
PageConfig.setOption("terminalsAvailable", "true");

const baseUrl = process.env.JLS_URL;
const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, "ws"),
  token: process.env.JLS_TOKEN,
  appendToken: true,
  WebSocket,
});

const terminals = new TerminalManager({ serverSettings });
await terminals.ready;
assert.ok(terminals.isAvailable(), "terminals are available");
const session = await terminals.startNew();
const name = session.name;
let output = "";
const answered = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no answer; output: ${output}`)), 20000);
  session.messageReceived.connect((_, message) => {
    if (message.type === "stdout") {
      output += message.content.join("");
      const match = output.match(/ANSWER=(\d+) PID=(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ answer: match[1], pid: Number(match[2]) });
      }
    }
  });
});
// The connection is open once the server's "setup" arrives; sending earlier is queued.
session.send({ type: "stdin", content: ["echo ANSWER=$((6*7)) PID=$$\r"] });
const { answer, pid } = await answered;
const listed = [];
for (const model of terminals.running()) listed.push(model.name);
await terminals.shutdown(name);
await terminals.refreshRunning();
const after = [];
for (const model of terminals.running()) after.push(model.name);
terminals.dispose();
console.log(JSON.stringify({ ok: true, name, answer, pid, listed, after }));
process.exit(0);
