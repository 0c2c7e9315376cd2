import sys

from stae_ros.cli import main

sys.exit(main())
