"""What the peer implementations of the weather dialog (LangGraph, ADK) share."""
