"""The seed's fully connected network (784 -> 50 -> ReLU -> 10), with its sizes configurable."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Flatten, fc1, ReLU, (dropout), fc2.

    With the defaults it is the seed's ``NeuralNetwork`` layer for layer: same layer names
    (fc1, relu1, fc2), same PyTorch default initialisation, 784*50+50+50*10+10 parameters.
    Dropout has no parameters and is a no-op at 0, so it does not change that.
    """

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), hidden: int = 50,
                 num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.in_shape = tuple(int(d) for d in in_shape)
        self.fc1 = nn.Linear(math.prod(self.in_shape), hidden)
        self.relu1 = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    @property
    def classifier(self) -> nn.Linear:
        # The name the rest of the project uses; a property so state_dict keeps only fc1/fc2.
        return self.fc2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # flatten(1) == the seed's x.view(-1, 784) for (N, 1, 28, 28) input, and also takes
        # non-contiguous (e.g. channels_last) tensors.
        return self.fc2(self.dropout(self.relu1(self.fc1(x.flatten(1)))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden activations (N, hidden), the input of the classifier."""
        return self.relu1(self.fc1(x.flatten(1)))

    def backbone_parameters(self):
        return self.fc1.parameters()

    def head_parameters(self):
        return self.fc2.parameters()
