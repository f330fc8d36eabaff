"""Taking money: start a payment, apply what the provider reports, watch, finance, receipts."""
