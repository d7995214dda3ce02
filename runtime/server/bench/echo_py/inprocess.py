"""In-process Python LangGraph rate for the same echo graph and load (no server): sequential
invokes with InMemorySaver, one fresh thread per run, as the HTTP benchmark does."""

import json
import statistics
import sys
import time
import uuid

from langgraph.checkpoint.memory import InMemorySaver

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from echo_graph import builder  # noqa: E402

app = builder.compile(checkpointer=InMemorySaver())
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
rates = []
for _ in range(3):
    start = time.perf_counter()
    for _ in range(runs):
        app.invoke({"messages": [{"role": "user", "content": "hi"}]}, {"configurable": {"thread_id": str(uuid.uuid4())}})
    rates.append(runs / (time.perf_counter() - start))
print(json.dumps({"inprocess_runs_per_sec": round(statistics.median(rates), 1)}))
