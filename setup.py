from setuptools import find_packages, setup

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
        "test": ["pytest", "pytest-xdist", "hypothesis", "scikit-learn"],
    },
    license="Apache-2.0",
)
