"""Training, one job per module: ``settings`` (the frozen, validated settings of a run), ``fit``
(the keyword API), ``loop`` (the epoch loop), ``state`` (a run's state and its preparation),
``step`` (the gradient of a batch), ``rows`` (the hooks of models with extra inputs per row),
``schedules`` (optimizer, learning rate, momentum, scheduler), ``regularisers``, ``guards``
(divergence), ``monitor`` (history, likelihood, early stopping), ``resume`` and ``checkpoint``,
``signals``, ``agreement`` and ``distributed`` (data-parallel runs), ``precision``, ``defaults``,
and ``dbn`` (greedy DBN training and fine-tuning)."""
