"""The monitor daemon: a pipeline of stages that watches every live task."""
