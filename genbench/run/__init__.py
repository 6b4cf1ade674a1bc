"""One run, end to end: config -> data -> model -> Trainer -> scorecard -> results/runs/<run_id>/.

- build: the run's dataset, model or classifier;
- generative, classifier: train or fit, then score with the scorecard of the kind;
- references: the sample-quality feature space and the reference rows beside the runs;
- record: the run's RunResult;
- execute: `run`, the one function the CLI, the suite's processes and Ray tasks call.
"""
