// Adds jobs with BullMQ's own client (npm bullmq, pinned in scripts/package-lock.json).
// Usage: [PREFIX=P] node bullmq_enqueue.js REDIS_URL QUEUE COMMAND [N]
//   PREFIX       the Queue's and Worker's `prefix` option (BullMQ's default: bull)
//   add N        N jobs now (addBulk, 1,000 at a time)
//   delay MS     one job delayed by MS milliseconds
//   prioritized  one job with priority 5
//   pause        pause the queue
//   take         take one waiting job as a worker does (it becomes active: a busy job)
const { Queue, Worker } = require("bullmq");

async function main() {
  const [url, name, command, value] = process.argv.slice(2);
  const connection = { url };
  const prefix = process.env.PREFIX ? { prefix: process.env.PREFIX } : {};
  const queue = new Queue(name, { connection, ...prefix });
  if (command === "add") {
    let left = Number(value);
    while (left > 0) {
      const batch = Math.min(left, 1000);
      await queue.addBulk(Array.from({ length: batch }, (_, n) => ({ name: "job", data: { n } })));
      left -= batch;
    }
  } else if (command === "delay") {
    await queue.add("job", {}, { delay: Number(value) });
  } else if (command === "prioritized") {
    await queue.add("job", {}, { priority: 5 });
  } else if (command === "pause") {
    await queue.pause();
  } else if (command === "take") {
    const worker = new Worker(name, null, { connection, autorun: false, ...prefix });
    const job = await worker.getNextJob("autoscaled-test");
    if (!job) throw new Error("no job to take");
    await worker.close(true);
  } else {
    throw new Error(`unknown command ${command}`);
  }
  await queue.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
