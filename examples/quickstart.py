"""Quickstart: fit an RNN, an LSTM and a GRU to the airline passengers series.

The series is 144 monthly totals (1949–1960, thousands of passengers), bundled with rnnlab. Each
model reads 12 months and predicts the next one. The last 24 months are held out as the test set.
The networks see the month-on-month change of log(passengers), standardised with statistics of the
training months only: the log makes the seasonal swings additive, and the change removes the trend
that would otherwise carry the test years outside anything seen in training. Errors are reported in
passengers (thousands), next to the seasonal-naive forecast "same month last year".

Run it as-is: `python examples/quickstart.py` (or `make demo`). It takes well under a minute on
two CPU cores.
"""

import torch
from torch import nn

import rnnlab
from rnnlab.data import load_airline

WINDOW = 12        # months the model reads
TEST_MONTHS = 24   # months held out at the end
HIDDEN_SIZE = 32
EPOCHS = 300       # full-batch Adam steps
LEARNING_RATE = 3e-3
SEED = 0


class Forecaster(nn.Module):
    """A recurrent layer over the window, then a linear head on the last step's output."""

    def __init__(self, recurrent: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.recurrent(xs)                   # (B, T, H); final state unused
        return self.head(outputs[:, -1]).squeeze(-1)      # (B,)


def make_windows(series: torch.Tensor, targets: range) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, WINDOW, 1) of the WINDOW months before each target index, and targets (B,)."""
    xs = torch.stack([series[t - WINDOW:t] for t in targets]).unsqueeze(-1)  # (B, T, 1)
    ys = series[list(targets)]                                               # (B,)
    return xs, ys


def errors(forecast: torch.Tensor, actual: torch.Tensor) -> tuple[float, float]:
    """Mean absolute error and root mean squared error."""
    difference = forecast - actual
    return difference.abs().mean().item(), difference.square().mean().sqrt().item()


def train(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor) -> None:
    """Full-batch Adam on the mean squared error in scaled units."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        optimizer.step()


def main() -> None:
    passengers = load_airline()                                  # (144,) float32, time order
    split = len(passengers) - TEST_MONTHS                        # first test month's index

    # changes[t] = log(passengers[t]) - log(passengers[t-1]); changes[0] is undefined (nan).
    logs = passengers.log()
    changes = torch.cat([torch.tensor([float("nan")]), logs.diff()])
    # Standardise with the training months only, so nothing leaks from the test years.
    mean, std = changes[1:split].mean(), changes[1:split].std()
    scaled = (changes - mean) / std

    train_xs, train_ys = make_windows(scaled, range(1 + WINDOW, split))
    test_xs, _ = make_windows(scaled, range(split, len(passengers)))
    actual = passengers[split:]

    def unscale(predicted: torch.Tensor) -> torch.Tensor:
        # One step ahead: last month's real value times the predicted change.
        return (logs[split - 1:-1] + predicted * std + mean).exp()

    layers = {
        "RNN": lambda: rnnlab.RNN(1, HIDDEN_SIZE, batch_first=True),
        "LSTM": lambda: rnnlab.LSTM(1, HIDDEN_SIZE, batch_first=True),
        "GRU": lambda: rnnlab.GRU(1, HIDDEN_SIZE, batch_first=True),
    }
    rows = []
    for name, make_layer in layers.items():
        torch.manual_seed(SEED)
        model = Forecaster(make_layer(), HIDDEN_SIZE)
        train(model, train_xs, train_ys)
        with torch.no_grad():
            forecast = unscale(model(test_xs))
        num_parameters = sum(p.numel() for p in model.parameters())
        rows.append((name, num_parameters, *errors(forecast, actual)))

    # Baselines on the same months. The networks see last month's value, so the plain naive
    # forecast (repeat last month) is shown beside the seasonal one.
    seasonal_naive = passengers[split - 12:-12]                  # same month, one year earlier
    naive = passengers[split - 1:-1]                             # previous month
    rows.append(("seasonal naive", 0, *errors(seasonal_naive, actual)))
    rows.append(("naive", 0, *errors(naive, actual)))

    print(f"Airline passengers: train 1949-01..1958-12 ({split} months), "
          f"test 1959-01..1960-12 ({TEST_MONTHS} months); errors in thousands of passengers.")
    print(f"{'model':<15} {'parameters':>10} {'test MAE':>9} {'test RMSE':>10}")
    for name, num_parameters, mae, rmse in rows:
        print(f"{name:<15} {num_parameters:>10} {mae:>9.1f} {rmse:>10.1f}")


if __name__ == "__main__":
    main()
