"""Stock: reservations in the buffer, figures from 1C, exact reconciliation, availability inputs."""
