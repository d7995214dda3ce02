"""Python twin of orrery-runtime's bundled `echo` graph, for the benchmark against `langgraph dev`.

State: `messages` with `add_messages`; one node `echo` appends an AI message whose content is the
last message's content, after sleeping `configurable.delay_ms` milliseconds when it is set.
"""

import time
import uuid

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph


def echo(state: MessagesState, config: RunnableConfig):
    delay = (config.get("configurable") or {}).get("delay_ms")
    if delay:
        time.sleep(delay / 1000)
    last = state["messages"][-1].content if state["messages"] else ""
    return {"messages": [AIMessage(content=last, id=f"run-{uuid.uuid4()}")]}


builder = StateGraph(MessagesState)
builder.add_node("echo", echo)
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()
