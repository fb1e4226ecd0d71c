"""The display-node agent's parts: xrandr parsing, kiosk windows, health endpoint, pairing."""
