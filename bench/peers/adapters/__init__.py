"""One adapter per tool compared in bench/peers: install it, run it, read its types back."""
