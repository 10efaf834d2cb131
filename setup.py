from setuptools import find_packages, setup

# The documentation site (mkdocs.yml): `pip install -e ".[docs]" && mkdocs serve`.
DOCS = [
    "mkdocs>=1.6.1,<2",
    "mkdocs-material>=9.8.2",
    "mkdocstrings>=1.0.8",
    "mkdocstrings-python>=2.0.11",
    "pymdown-extensions>=13.1",
    "ruff>=0.17",  # mkdocstrings formats the API reference's signatures with it
]

setup(
    name="tfp_survae",
    version="0.3.0.dev0",
    description=(
        "SurVAE Flows for TensorFlow / TensorFlow Probability: bijective, surjective and "
        "stochastic transforms with exact or lower-bound likelihoods, as Keras 3 layers."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfp_survae", "tfp_survae.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.18",
        "tensorflow-probability>=0.25",
        "tf-keras",
        "keras>=3",
        "tensorflow-datasets",
        "tensorboard",
        "matplotlib",
        "scipy",
    ],
    extras_require={
        "examples": ["scikit-learn"],
        "docs": DOCS,
        # The docs tests build the site; the browser test drives Debian's chromium.
        "test": ["pytest", "pytest-xdist", "hypothesis", "scikit-learn", *DOCS,
                 "playwright>=1.65"],
    },
    license="Apache-2.0",
)
