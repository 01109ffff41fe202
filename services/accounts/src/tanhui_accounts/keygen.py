"""`python -m tanhui_accounts.keygen PATH`: make the token-signing key for a deployment, once."""
import sys
from pathlib import Path

from .security import SigningKey, write_new_signing_key

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tanhui_accounts.keygen /path/to/jwt-signing-key.pem")
    path = Path(sys.argv[1])
    write_new_signing_key(path)  # keeps an existing key: rotating is a deliberate, separate act
    print(f"signing key {path} (kid {SigningKey.from_pem(path.read_bytes()).kid})")
